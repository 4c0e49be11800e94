// Command s3server serves the S3 API (core/s3) over a running elliptics
// cluster, for trying clients and running tests/s3/*.py by hand before the
// daemon's HTTP listener mounts the handler:
//
//	go run ./tests/s3/s3server -remote 127.0.0.1:1025 -listen 127.0.0.1:9000
//	S3_ENDPOINT=http://127.0.0.1:9000 AWS_ACCESS_KEY_ID=AKIDELLIPTICS \
//	  AWS_SECRET_ACCESS_KEY=elliptics-secret python3 tests/s3/boto3_test.py
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/elliptics/elliptics/core/client"
	"github.com/elliptics/elliptics/core/s3"
)

func main() {
	remotes := flag.String("remote", "127.0.0.1:1025", "comma-separated node addresses")
	listen := flag.String("listen", "127.0.0.1:9000", "HTTP address to serve on")
	ak := flag.String("access-key", "AKIDELLIPTICS", "access key ID")
	sk := flag.String("secret-key", "elliptics-secret", "secret key")
	region := flag.String("region", "us-east-1", "region")
	domain := flag.String("base-domain", "", "base domain for virtual-host-style requests")
	timeout := flag.Duration("timeout", 30*time.Second, "cluster request timeout")
	flag.Parse()

	n := client.NewNode(client.Config{WaitTimeout: *timeout})
	defer n.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.AddRemotes(ctx, strings.Split(*remotes, ",")...); err != nil {
		log.Fatalf("s3server: connect to %s: %v", *remotes, err)
	}
	h := s3.New(client.NewSession(n), s3.Options{Credentials: map[string]string{*ak: *sk}, Region: *region,
		BaseDomain: *domain, Logf: log.Printf})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("s3server: %v", err)
	}
	fmt.Fprintf(os.Stdout, "s3server listening on %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second}
	log.Fatal(srv.Serve(ln))
}
