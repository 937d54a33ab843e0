package main

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"gopkg.in/yaml.v3"
)

// composeCommand returns how to run Docker Compose here: the Compose plugin
// of the docker CLI, or Debian's docker-compose, which it installs (as
// `make deps` does) when neither is there.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err != nil && os.Geteuid() == 0 {
		if _, err := exec.LookPath("apt-get"); err == nil {
			t.Log("installing Debian's docker-compose to check docker-compose.cluster.yml")
			install := exec.Command("sh", "-c", "apt-get update -qq && apt-get install -y -qq docker-compose")
			install.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := install.CombinedOutput(); err != nil {
				t.Fatalf("apt-get install docker-compose: %v\n%s", err, out)
			}
		}
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("neither `docker compose` nor docker-compose is available (make deps installs it)")
		}
		t.Skip("neither `docker compose` nor docker-compose is available: run make deps")
	}
	return []string{"docker-compose"}
}

// composeFile is the part of `docker compose config`'s output the test
// reads. Volumes and secrets come in the short syntax (docker-compose 1.x)
// or the long one (the Compose plugin).
type composeFile struct {
	Services map[string]struct {
		Command []string `yaml:"command"`
		Volumes []any    `yaml:"volumes"`
		Secrets []any    `yaml:"secrets"`
		Image   string   `yaml:"image"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// mounts returns a service's bind mounts and secrets as container path →
// host path.
func (f composeFile) mounts(t *testing.T, service string) map[string]string {
	t.Helper()
	s := f.Services[service]
	m := map[string]string{}
	for _, v := range s.Volumes {
		switch v := v.(type) {
		case string:
			if parts := strings.Split(v, ":"); len(parts) >= 2 && strings.HasPrefix(parts[0], "/") {
				m[parts[1]] = parts[0]
			}
		case map[string]any:
			if v["type"] == "bind" {
				m[v["target"].(string)] = v["source"].(string)
			}
		}
	}
	for _, sec := range s.Secrets {
		name, target := "", ""
		switch sec := sec.(type) {
		case string:
			name = sec
		case map[string]any:
			name, _ = sec["source"].(string)
			target, _ = sec["target"].(string)
		}
		if target == "" {
			target = "/run/secrets/" + name
		} else if !strings.HasPrefix(target, "/") {
			target = "/run/secrets/" + target
		}
		file := f.Secrets[name].File
		if file == "" {
			t.Fatalf("service %s: secret %q has no file", service, name)
		}
		m[target] = file
	}
	return m
}

// TestClusterComposeFile: `docker compose config` accepts
// docker-compose.cluster.yml, and every vakt config it mounts passes `vakt
// check`, read with the service's mounts (its config file, secrets) in
// place. The ClickHouse schema it creates is the golden-tested ON CLUSTER
// variant, and the NATS and ClickHouse configs describe the cluster that
// schema and the streams' R3 need.
func TestClusterComposeFile(t *testing.T) {
	compose := composeCommand(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(root, "docker-compose.cluster.yml")
	run := func(env ...string) ([]byte, error) {
		cmd := exec.Command(compose[0], append(compose[1:], "-f", file, "config")...)
		cmd.Dir, cmd.Env = root, append(os.Environ(), env...)
		cmd.Stderr = &strings.Builder{}
		out, err := cmd.Output()
		if err != nil {
			return out, &composeError{err, cmd.Stderr.(*strings.Builder).String()}
		}
		return out, nil
	}
	// The ClickHouse servers' shared secret must be set: no default.
	if _, err := run("CLICKHOUSE_CLUSTER_SECRET="); err == nil || !strings.Contains(err.Error(), "CLICKHOUSE_CLUSTER_SECRET") {
		t.Errorf("%s config without CLICKHOUSE_CLUSTER_SECRET: want a refusal naming it, got %v", strings.Join(compose, " "), err)
	}
	out, err := run("CLICKHOUSE_CLUSTER_SECRET=compose-test-secret")
	if err != nil {
		t.Fatalf("%s -f docker-compose.cluster.yml config: %v", strings.Join(compose, " "), err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(out, &cf); err != nil {
		t.Fatalf("the output of compose config: %v", err)
	}

	var vaktServices, nats, keepers, clickhouses []string
	for name, s := range cf.Services {
		switch {
		case strings.HasPrefix(s.Image, "nats:"):
			nats = append(nats, name)
		case strings.HasPrefix(s.Image, "clickhouse/clickhouse-keeper:"):
			keepers = append(keepers, name)
		case strings.HasPrefix(s.Image, "clickhouse/clickhouse-server:"):
			clickhouses = append(clickhouses, name)
		case len(s.Command) > 1 && s.Command[0] == "vakt":
			vaktServices = append(vaktServices, name)
		}
	}
	slices.Sort(vaktServices)
	t.Logf("NATS %v, Keeper %v, ClickHouse %v, vakt %v", nats, keepers, clickhouses, vaktServices)
	if len(nats) != 3 || len(keepers) != 3 || len(clickhouses) != 2 {
		t.Errorf("want 3 NATS nodes, 3 Keeper nodes and 2 ClickHouse replicas; have %d, %d, %d", len(nats), len(keepers), len(clickhouses))
	}
	for _, want := range []string{"dashboard", "ingest", "migrate", "pseudonymize", "store"} {
		if !slices.Contains(vaktServices, want) {
			t.Errorf("no vakt service %q", want)
		}
	}

	dir := t.TempDir()
	for _, name := range vaktServices {
		s := cf.Services[name]
		i := slices.Index(s.Command, "--config")
		if i < 0 || i+1 >= len(s.Command) {
			t.Errorf("service %s runs vakt without --config", name)
			continue
		}
		mounts := cf.mounts(t, name)
		host, ok := mounts[s.Command[i+1]]
		if !ok {
			t.Errorf("service %s: its config %s is not mounted", name, s.Command[i+1])
			continue
		}
		cfg := checkMountedConfig(t, dir, name, host, mounts)
		if strings.Contains(cfg, "nats:") && !strings.Contains(cfg, "replicas: 3") {
			t.Errorf("service %s: its config does not set streams.replicas: 3 for the three-node cluster", name)
		}
		if strings.Contains(cfg, "clickhouse:") {
			checkClusterSchema(t, name, filepath.Join(dir, name+".yaml"))
		}
	}
	checkNATSClusterConf(t, filepath.Join(root, "configs", "nats-cluster.conf"))
	checkClickHouseClusterXML(t, filepath.Join(root, "configs", "clickhouse-cluster", "cluster.xml"))
}

type composeError struct {
	err    error
	stderr string
}

func (e *composeError) Error() string { return e.err.Error() + ": " + e.stderr }

// checkMountedConfig runs `vakt check` on a service's config with the
// container paths it names replaced by the files mounted there, and
// returns the config.
func checkMountedConfig(t *testing.T, dir, service, file string, mounts map[string]string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(b)
	for target, source := range mounts {
		cfg = strings.ReplaceAll(cfg, target, source)
	}
	local := filepath.Join(dir, service+".yaml")
	if err := os.WriteFile(local, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := vakt(t, "check", "--config", local)
	if err != nil || !strings.Contains(stdout, "configuration ok") {
		t.Errorf("vakt check on %s (service %s): %v\n%s%s", file, service, err, stdout, stderr)
	}
	return string(b)
}

// checkClusterSchema: the schema `vakt migrate` creates with the service's
// config is store/testdata/schema_cluster.sql (without its retention
// ALTERs), the golden the store tests pin.
func checkClusterSchema(t *testing.T, service, cfg string) {
	t.Helper()
	golden, err := os.ReadFile(filepath.Join("..", "..", "store", "testdata", "schema_cluster.sql"))
	if err != nil {
		t.Fatal(err)
	}
	want, _, ok := strings.Cut(string(golden), "\n-- retention.requests:")
	if !ok {
		t.Fatal("store/testdata/schema_cluster.sql has no retention section")
	}
	stdout, stderr, err := vakt(t, "migrate", "--print-sql", "--config", cfg)
	if err != nil {
		t.Fatalf("vakt migrate --print-sql (service %s): %v\n%s", service, err, stderr)
	}
	if strings.TrimSpace(stdout) != strings.TrimSpace(want) {
		t.Errorf("service %s: vakt migrate --print-sql differs from store/testdata/schema_cluster.sql (its cluster or database?):\n%s", service, stdout)
	}
}

// checkNATSClusterConf loads the nats-server config of the compose file,
// as nats-server does for node nats-2: clustered with all three nodes,
// JetStream on.
func checkNATSClusterConf(t *testing.T, file string) {
	t.Helper()
	t.Setenv("NATS_SERVER_NAME", "nats-2")
	o, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if o.ServerName != "nats-2" || !o.JetStream || o.Cluster.Name == "" || len(o.Routes) != 3 {
		t.Errorf("%s: server %q, JetStream %v, cluster %q with %d routes; want nats-2, on, named, 3", file, o.ServerName, o.JetStream, o.Cluster.Name, len(o.Routes))
	}
}

// checkClickHouseClusterXML: the ClickHouse servers' config defines the
// cluster the schema names (vakt_cluster) with two replicas, three Keeper
// nodes, and the {shard} and {replica} macros its tables use.
func checkClickHouseClusterXML(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Replicas []struct {
			Host string `xml:"host"`
		} `xml:"remote_servers>vakt_cluster>shard>replica"`
		Keepers []struct {
			Host string `xml:"host"`
		} `xml:"zookeeper>node"`
		Shard   *struct{} `xml:"macros>shard"`
		Replica *struct{} `xml:"macros>replica"`
	}
	if err := xml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(c.Replicas) != 2 || len(c.Keepers) != 3 || c.Shard == nil || c.Replica == nil {
		t.Errorf("%s: vakt_cluster with %d replicas, %d Keeper nodes, macros shard %v replica %v; want 2, 3, both", file, len(c.Replicas), len(c.Keepers), c.Shard != nil, c.Replica != nil)
	}
}
