package web_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserThreatsTable drives the threats table in headless chromium
// as a user does: a category chip, the filter box and a column's sort.
// The server filters, sorts and pages (/api/threats' view parameters), so
// each step must show exactly the rows the API gives for that view.
func TestBrowserThreatsTable(t *testing.T) {
	bin := chromium(t)
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]), chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Headless,
		chromedp.DisableGPU, chromedp.WindowSize(1400, 1000), chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTime()

	// rows are the keys (scope/site/epoch/id) of the table's rows once
	// the page shows what the API gives for view (since=1h, page of 250).
	rows := func(step, view string) []string {
		t.Helper()
		// Both are read until they agree: the demo traffic changes the
		// report, which the API and the page each refresh on their own.
		var got, want []string
		deadline := time.Now().Add(45 * time.Second)
		for {
			var api threatsJSON
			if code, b := get(t, "/api/threats?since=1h&limit=250&"+view, &api); code != 200 {
				t.Fatalf("%s: %d %s", step, code, b)
			}
			want = want[:0]
			for _, o := range api.Offenders {
				want = append(want, fmt.Sprintf("%s/%s/%d/%s", o.Scope, o.Site, o.Epoch, o.ID))
			}
			var err error
			got, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tr.offender")).map((r) => r.dataset.key)`))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			if slices.Equal(got, want) || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s: the table shows %d rows %.300v, the API's view (%s) %d: %.300v", step, len(got), got, view, len(want), want)
		}
		return got
	}

	if err := chromedp.Do(ctx, chromedp.Navigate(pageURL("range=1h")), chromedp.WaitVisible(chromedp.CSS("tr.offender"))); err != nil {
		t.Fatal(err)
	}
	all := rows("page loaded", "")
	if len(all) < 3 {
		t.Fatalf("%d offenders: too few to filter", len(all))
	}

	// A chip: the most common category of the last hour.
	var api threatsJSON
	get(t, "/api/threats?since=1h", &api)
	cat, inCats := commonestCategory(api)
	chip := chromedp.Search(fmt.Sprintf(`//button[contains(@class, "chip")][starts-with(normalize-space(.), %q)]`, strings.ReplaceAll(cat, "_", " ")))
	if err := chromedp.Do(ctx, chromedp.Click(chip)); err != nil {
		t.Fatalf("chip %s: %v", cat, err)
	}
	inCat := rows("chip "+cat, "category="+cat)
	if len(inCat) == 0 || len(inCat) > inCats+5 {
		t.Errorf("chip %s: %d rows, %d offenders had the category", cat, len(inCat), inCats)
	}

	// Sorted by requests, most first, then fewest first.
	sortBy := chromedp.CSS(`th.sortable[data-sort="requests"]`)
	if err := chromedp.Do(ctx, chromedp.Click(sortBy)); err != nil {
		t.Fatal(err)
	}
	rows("sorted by requests", "category="+cat+"&sort=requests&dir=desc")
	if err := chromedp.Do(ctx, chromedp.Click(sortBy)); err != nil {
		t.Fatal(err)
	}
	rows("sorted by requests ascending", "category="+cat+"&sort=requests&dir=asc")

	// The filter box: an offender's id, typed, with the chip still on.
	id := inCat[len(inCat)-1][strings.LastIndexByte(inCat[len(inCat)-1], '/')+1:]
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("threat-search"), id)); err != nil {
		t.Fatal(err)
	}
	found := rows("filter "+id, "category="+cat+"&sort=requests&dir=asc&q="+url.QueryEscape(id))
	if !slices.ContainsFunc(found, func(k string) bool { return strings.HasSuffix(k, "/"+id) }) {
		t.Errorf("filter %s: not among the rows %v", id, found)
	}

	// The chip off and the filter cleared: every offender again, sorted.
	if err := chromedp.Do(ctx, chromedp.Click(chip), chromedp.SendKeys(chromedp.ID("threat-search"), strings.Repeat(kb.Backspace, len(id)))); err != nil {
		t.Fatal(err)
	}
	rows("chip off, filter cleared", "sort=requests&dir=asc")
	if errs, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.dataset.jsErrors`)); err != nil || errs != "0" {
		t.Errorf("script errors on the page: %q (%v)", errs, err)
	}
}
