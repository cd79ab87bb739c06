package console

import "net/http"

func init() {
	addRoutes(route{"GET /{$}", (*Console).home})
}

// home is the page that answers "is everything all right?".
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.render(w, r, http.StatusOK, v, "home.html", &page{Title: "Home", Nav: "home"})
}
