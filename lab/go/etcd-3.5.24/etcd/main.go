// The etcd server command. Upstream's main package is the root of go.etcd.io/etcd/v3, a module that can only be
// built inside its own checkout (it replaces every go.etcd.io/etcd/* module with a relative path), so this module
// carries the same two lines (etcd's main.go) and builds them against the published modules.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
