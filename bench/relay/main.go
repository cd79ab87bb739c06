// Command relay is the egress benchmark's reference: the least a TCP relay can be, two
// io.Copy calls per connection (spliced by the kernel on Linux) to one fixed upstream.
// It shows what any relay costs on the machine, next to the direct path.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
)

func main() {
	upstream := flag.String("upstream", "", "host:port to relay to")
	flag.Parse()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil || *upstream == "" {
		fmt.Fprintln(os.Stderr, "relay: -upstream host:port is required; listen:", err)
		os.Exit(2)
	}
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("tcp", *upstream)
			if err != nil {
				return
			}
			defer u.Close()
			go func() {
				_, _ = io.Copy(u, c)
				_ = u.(*net.TCPConn).CloseWrite()
			}()
			_, _ = io.Copy(c, u)
		}()
	}
}
