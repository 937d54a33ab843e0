#!/usr/bin/env python3
# Runs vakt import under a pseudo-terminal and reports the gaps between
# progress-bar frames (\r-separated) on its stderr.
import os, pty, sys, time, re
args = sys.argv[1:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(args[0], args)
frames = []  # (time, text)
buf = b""
start = time.monotonic()
while True:
    try:
        data = os.read(fd, 65536)
    except OSError:
        break
    if not data:
        break
    now = time.monotonic() - start
    if os.environ.get("RAW"):
        open(os.environ["RAW"], "ab").write(data)
    buf += data
    parts = buf.split(b"\r")
    buf = parts[-1]
    for p in parts[:-1]:
        s = p.decode(errors="replace")
        if re.search(r"\d+%\s*\|", s):
            frames.append((now, s.strip()))
_, status = os.waitpid(pid, 0)
end = time.monotonic() - start
gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
print("exit", os.waitstatus_to_exitcode(status), "elapsed %.1fs" % end, "frames", len(frames))
if gaps:
    print("max gap between frames %.3fs, mean %.3fs, gaps over 1s: %d, p99 %.3fs" % (max(gaps), sum(gaps) / len(gaps), sum(1 for g in gaps if g > 1), sorted(gaps)[int(len(gaps)*0.99)]))
print("first frame at %.1fs: %s" % frames[0] if frames else "no frame")
for t, s in frames[len(frames)//2:len(frames)//2+1] + frames[-1:]:
    print("%.1fs: %s" % (t, s))
print("tail:", buf.decode(errors="replace")[-600:])
