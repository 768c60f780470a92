// A memberlist member that only runs the protocol, for benchmarks/swim.py's real-socket part.
//
// HashiCorp's memberlist as Debian packages it (golang-github-hashicorp-memberlist-dev 0.2.2),
// DefaultLANConfig, a 32-byte key (AES-256-GCM), logs discarded. Membership events are appended
// to a file as JSON lines; nothing else runs in the process (no polling loop), so its CPU time,
// read from /proc by the benchmark, is the protocol's own.
//
// Usage: memberlist_member INDEX PORT SEED_PORT KEY_HEX EVENTS_FILE
package main

import (
	"encoding/hex"
	"fmt"
	"io/ioutil"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/memberlist"
)

type events struct {
	mu   sync.Mutex
	file *os.File
}

func (e *events) write(kind string, n *memberlist.Node) {
	who, err := strconv.Atoi(n.Name[1:])
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	t := float64(time.Now().UnixNano()) / 1e9
	fmt.Fprintf(e.file, "{\"ev\": %q, \"who\": %d, \"t\": %.6f}\n", kind, who, t)
}

func (e *events) NotifyJoin(n *memberlist.Node)   { e.write("join", n) }
func (e *events) NotifyLeave(n *memberlist.Node)  { e.write("dead", n) }
func (e *events) NotifyUpdate(n *memberlist.Node) {}

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: memberlist_member INDEX PORT SEED_PORT KEY_HEX EVENTS_FILE")
		os.Exit(2)
	}
	index, _ := strconv.Atoi(os.Args[1])
	port, _ := strconv.Atoi(os.Args[2])
	seedPort, _ := strconv.Atoi(os.Args[3])
	key, err := hex.DecodeString(os.Args[4])
	if err != nil {
		panic(err)
	}
	f, err := os.OpenFile(os.Args[5], os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		panic(err)
	}
	cfg := memberlist.DefaultLANConfig()
	cfg.Name = fmt.Sprintf("m%d", index)
	cfg.BindAddr = "127.0.0.1"
	cfg.BindPort = port
	cfg.AdvertiseAddr = "127.0.0.1"
	cfg.AdvertisePort = port
	cfg.SecretKey = key
	cfg.LogOutput = ioutil.Discard
	cfg.Events = &events{file: f}
	list, err := memberlist.Create(cfg)
	if err != nil {
		panic(err)
	}
	if port != seedPort {
		for {
			if _, err := list.Join([]string{fmt.Sprintf("127.0.0.1:%d", seedPort)}); err == nil {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	<-stop
}
