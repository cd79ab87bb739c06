package console

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/internal/catalog"
	"github.com/gatehouse/gatehouse/internal/governance"
)

func init() {
	addRoutes(route{"GET /inventory", (*Console).inventory})
}

// inventoryPage bounds the rows of one inventory page (the credentials that need a
// human are all shown, above them).
const inventoryPage = 200

// timelineDays is how far ahead the expiry timeline looks.
const timelineDays = 30

// needsHuman reports whether a credential waits for a person: it must be signed in to
// again, will soon need it, or is set up wrongly.
func needsHuman(s catalog.CredentialState) bool {
	return s == catalog.StateReauthRequired || s == catalog.StateExpiring || s == catalog.StateMisconfigured
}

// inventoryRow is one credential as the page shows it.
type inventoryRow struct {
	governance.InventoryItem
	Expires  when // the refresh token's expiry, else the access token's
	LastUsed when
}

// timelineBar is one day of the expiry timeline: an SVG bar (geometry in user units,
// since the CSP allows no style attributes) and what expires that day.
type timelineBar struct {
	Day            string
	Count          int
	X, Y, W, H     int
	Human          bool // some credential expiring that day needs a human already
	LabelX, LabelY int
}

type inventoryData struct {
	Human, Rows          []inventoryRow
	Total, Shown         int
	Page                 int
	PrevPage, NextPage   int
	Bars                 []timelineBar
	Expiring             []inventoryRow // within the timeline, soonest first
	TimelineW, TimelineH int
	AxisY, TickY         int
	Ticks                []timelineBar // X and Day only
}

// expiry is when a credential next needs its holder: the refresh token's end if it
// has one (access tokens are refreshed without anyone), else the access token's.
func expiry(it governance.InventoryItem) time.Time {
	if !it.RefreshExpiresAt.IsZero() {
		return it.RefreshExpiresAt
	}
	return it.AccessExpiresAt
}

// inventory lists every credential held (admins only, as in the API): those that need
// a human first, a timeline of the expiries of the next 30 days, then all of them by
// connection, a page at a time.
func (c *Console) inventory(w http.ResponseWriter, r *http.Request, v *viewer) {
	items, err := c.d.Gov.Inventory(r.Context(), v.P)
	if err != nil {
		c.fail(w, r, v, err)
		return
	}
	now := c.d.Now()
	d := &inventoryData{Total: len(items)}
	d.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	d.Page = max(d.Page, 1)
	perDay := make([]int, timelineDays)
	humanDay := make([]bool, timelineDays)
	for i, it := range items {
		row := inventoryRow{InventoryItem: it, Expires: c.when(expiry(it)), LastUsed: c.when(it.LastUsedAt)}
		if needsHuman(it.State) {
			d.Human = append(d.Human, row)
		}
		if i >= (d.Page-1)*inventoryPage && i < d.Page*inventoryPage {
			d.Rows = append(d.Rows, row)
		}
		if e := expiry(it); !e.IsZero() && !e.Before(now) && e.Before(now.Add(timelineDays*24*time.Hour)) {
			day := int(e.Sub(now) / (24 * time.Hour))
			perDay[day]++
			humanDay[day] = humanDay[day] || needsHuman(it.State)
			d.Expiring = append(d.Expiring, row)
		}
	}
	d.Shown = len(d.Rows)
	if d.Page > 1 {
		d.PrevPage = d.Page - 1
	}
	if d.Page*inventoryPage < len(items) {
		d.NextPage = d.Page + 1
	}
	sortByExpiry(d.Expiring)
	if len(d.Expiring) > 100 {
		d.Expiring = d.Expiring[:100]
	}
	d.timeline(perDay, humanDay, now)
	c.render(w, r, http.StatusOK, v, "inventory.html", &page{Title: "Inventory", Nav: "inventory", Data: d})
}

// timeline lays out the bars: one column per day, heights scaled to the busiest day.
func (d *inventoryData) timeline(perDay []int, human []bool, now time.Time) {
	const colW, gap, plotH, top = 24, 4, 120, 16
	d.TimelineW, d.TimelineH, d.AxisY, d.TickY = len(perDay)*(colW+gap), top+plotH+22, top+plotH, top+plotH+15
	peak := 1
	for _, n := range perDay {
		peak = max(peak, n)
	}
	for i, n := range perDay {
		x := i * (colW + gap)
		day := now.Add(time.Duration(i) * 24 * time.Hour).UTC().Format("Jan 2")
		if i%5 == 0 {
			d.Ticks = append(d.Ticks, timelineBar{X: x, Day: day})
		}
		if n == 0 {
			continue
		}
		h := max(n*plotH/peak, 3)
		d.Bars = append(d.Bars, timelineBar{Day: day, Count: n, X: x, Y: top + plotH - h, W: colW, H: h, Human: human[i],
			LabelX: x + colW/2, LabelY: top + plotH - h - 3})
	}
}

func sortByExpiry(rows []inventoryRow) {
	slices.SortStableFunc(rows, func(a, b inventoryRow) int { return expiry(a.InventoryItem).Compare(expiry(b.InventoryItem)) })
}

// plural count of things, for headings.
func countOf(n int, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %ss", n, one)
}

func init() {
	addFuncs(template.FuncMap{"countOf": countOf})
}
