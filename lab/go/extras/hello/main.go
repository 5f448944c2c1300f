// hello is the lab's test workload: a tiny HTTP server that says which pod answered, so a test can tell replicas
// apart behind a Service. Standard library only, so it builds static and ships as a one-file image.
//
//	GET /        -> "hello from <hostname> <pod IPs>\n"
//	GET /healthz -> "ok\n"
//
// Listens on :8080, or -port / $PORT. Pod IPs come from $POD_IPS or $POD_IP (downward API) when set, else from the
// non-loopback interface addresses. SIGTERM or SIGINT: stops accepting, finishes in-flight requests, exits 0, the
// way a well-behaved pod ends within its grace period.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

func main() {
	defPort := os.Getenv("PORT")
	if defPort == "" {
		defPort = "8080"
	}
	port := flag.String("port", defPort, "TCP port to listen on (env PORT)")
	flag.Parse()

	hostname, err := os.Hostname()
	if err != nil {
		log.Fatalf("hostname: %v", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		// Addresses are read per request: in a pod they are fixed, but outside one (lab tests) they may change.
		fmt.Fprintf(w, "hello from %s %s\n", hostname, strings.Join(podIPs(), " "))
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "ok")
	})

	ln, err := net.Listen("tcp", ":"+*port)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Printf("hello: listening on %s", ln.Addr())

	select {
	case err := <-served:
		log.Fatalf("serve: %v", err)
	case <-ctx.Done():
	}
	log.Printf("hello: signal received, shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		log.Fatalf("shutdown: %v", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("serve: %v", err)
	}
}

// podIPs prefers what Kubernetes tells the pod (downward API), falling back to the interfaces' own addresses.
func podIPs() []string {
	if v := os.Getenv("POD_IPS"); v != "" {
		return strings.Split(v, ",")
	}
	if v := os.Getenv("POD_IP"); v != "" {
		return []string{v}
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil
	}
	var ips []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
			ips = append(ips, n.IP.String())
		}
	}
	return ips
}
