// Command refproxy is the benchmark's reference: the least a credential-injecting proxy
// can be, an httputil.ReverseProxy that adds one header. Gatehouse is measured against it.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
)

func main() {
	target := flag.String("upstream", "", "upstream URL")
	caFile := flag.String("ca", "", "PEM file of the upstream's certificate")
	listen := flag.String("listen", "127.0.0.1:0", "address")
	flag.Parse()
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		fmt.Fprintln(os.Stderr, "refproxy: -upstream must be a URL")
		os.Exit(2)
	}
	pemBytes, err := os.ReadFile(*caFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refproxy:", err)
		os.Exit(1)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool}
	tr.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.URL.Path = "/" + strings.TrimPrefix(pr.In.URL.Path, "/")
			pr.Out.Header.Set("Authorization", "Bearer reference-token")
		},
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "refproxy:", err)
		os.Exit(1)
	}
	fmt.Println("http://" + ln.Addr().String())
	if err := http.Serve(ln, rp); err != nil {
		fmt.Fprintln(os.Stderr, "refproxy:", err)
		os.Exit(1)
	}
}
