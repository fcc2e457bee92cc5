// Go's runtime inside hx: goroutines on several threads (GOMAXPROCS 2),
// channels, sync.WaitGroup and sync.Mutex, timers, panics recovered from
// runtime errors (the nil pointer and the division by zero arrive as SIGSEGV
// and SIGFPE), asynchronous preemption (SIGURG sent to a thread) and a garbage
// collector that runs many times. Every line printed is deterministic.
package main

import (
	"crypto/sha256"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

// recovered runs f and returns the message of the panic it recovers from.
func recovered(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg = fmt.Sprint(r)
		}
	}()
	f()
	return "no panic"
}

// numGC is how many garbage collections have completed.
func numGC() uint32 {
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	return stats.NumGC
}

type node struct {
	next  *node
	value [4]int64
}

func main() {
	prev := runtime.GOMAXPROCS(2)
	fmt.Println("gomaxprocs:", runtime.GOMAXPROCS(0), "was at least 1:", prev >= 1)

	// A pipeline: a generator, four squaring workers, one collector.
	nums := make(chan int64)
	squares := make(chan int64, 8)
	go func() {
		for i := int64(1); i <= 100000; i++ {
			nums <- i
		}
		close(nums)
	}()
	var workers sync.WaitGroup
	for w := 0; w < 4; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for n := range nums {
				squares <- n * n % 1000003
			}
		}()
	}
	go func() {
		workers.Wait()
		close(squares)
	}()
	var total int64
	for s := range squares {
		total += s
	}
	fmt.Println("pipeline sum:", total)

	// A Mutex-protected map written by many goroutines.
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 10000; i++ {
				mu.Lock()
				counts[(g*i)%7]++
				mu.Unlock()
			}
		}(g)
	}
	wg.Wait()
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	line := ""
	for _, k := range keys {
		line += fmt.Sprintf(" %d:%d", k, counts[k])
	}
	fmt.Println("mutex counts:" + line)

	// Timers: Sleep, NewTimer (one stopped before it fires), After in a select.
	start := time.Now()
	time.Sleep(20 * time.Millisecond)
	t := time.NewTimer(30 * time.Millisecond)
	stopped := time.NewTimer(time.Hour)
	fmt.Println("stopped an unfired timer:", stopped.Stop())
	<-t.C
	select {
	case <-time.After(20 * time.Millisecond):
		fmt.Println("after: fired")
	case <-time.After(10 * time.Second):
		fmt.Println("after: the later one fired first")
	}
	elapsed := time.Since(start)
	fmt.Println("timers took at least 70ms:", elapsed >= 70*time.Millisecond, "and under 5s:", elapsed < 5*time.Second)

	// Runtime errors recovered as panics.
	fmt.Println("nil map:", recovered(func() {
		var m map[string]int
		m["x"] = 1
	}))
	fmt.Println("index:", recovered(func() {
		s := []int{1, 2, 3}
		i := len(s) + 2
		_ = s[i]
	}))
	fmt.Println("nil pointer:", recovered(func() {
		var p *node
		p.value[1] = 7
	}))
	fmt.Println("divide:", recovered(func() {
		zero := 0
		fmt.Println(100 / zero)
	}))
	fmt.Println("in a goroutine:", func() string {
		ch := make(chan string)
		go func() { ch <- recovered(func() { panic("goroutine panic") }) }()
		return <-ch
	}())

	// Asynchronous preemption: with one P, a loop without calls gives the
	// processor back only when the runtime preempts it with a signal.
	runtime.GOMAXPROCS(1)
	var stop int32
	spun := make(chan bool)
	go func() {
		for atomic.LoadInt32(&stop) == 0 {
		}
		spun <- true
	}()
	time.Sleep(50 * time.Millisecond)
	atomic.StoreInt32(&stop, 1)
	fmt.Println("preempted a spinning goroutine:", <-spun)
	runtime.GOMAXPROCS(2)

	// Allocation: lists built and dropped by two goroutines, the collector
	// running concurrently; a checksum of what was built.
	gcBefore := numGC()
	sums := make([]int64, 2)
	var alloc sync.WaitGroup
	for g := 0; g < 2; g++ {
		alloc.Add(1)
		go func(g int) {
			defer alloc.Done()
			for round := 0; round < 200; round++ {
				var head *node
				for i := 0; i < 20000; i++ {
					head = &node{next: head, value: [4]int64{int64(i), int64(round), int64(g), int64(i * round)}}
				}
				for n := head; n != nil; n = n.next {
					sums[g] += n.value[0] ^ n.value[3]
				}
			}
		}(g)
	}
	alloc.Wait()
	fmt.Println("allocation checksums:", sums[0], sums[1])
	fmt.Println("gc ran more than 10 times:", numGC()-gcBefore > 10)

	// A digest computed in chunks by goroutines, combined in order.
	chunks := make([][32]byte, 8)
	var hashing sync.WaitGroup
	for c := range chunks {
		hashing.Add(1)
		go func(c int) {
			defer hashing.Done()
			buf := make([]byte, 1<<20)
			for i := range buf {
				buf[i] = byte(i*c + i>>8)
			}
			chunks[c] = sha256.Sum256(buf)
		}(c)
	}
	hashing.Wait()
	h := sha256.New()
	for _, c := range chunks {
		h.Write(c[:])
	}
	fmt.Printf("digest: %x\n", h.Sum(nil))
}
