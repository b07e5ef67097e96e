package push

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Statuses a bar shows, as docker's push does.
const (
	StatusWaiting     = "Waiting"
	StatusPreparing   = "Preparing"
	StatusCompressing = "Compressing"
	StatusPushing     = "Pushing"
	StatusVerifying   = "Verifying"
	StatusPushed      = "Pushed"
	StatusExists      = "Layer already exists"
)

// Bars draws one progress line per blob and a total, like docker push:
// redrawn in place on a terminal, and as plain lines (status changes and
// a periodic total) otherwise.
type Bars struct {
	w     io.Writer
	tty   bool
	every time.Duration

	mu    sync.Mutex
	bars  []*Bar
	drawn int
	start time.Time
	last  time.Time
	stop  chan struct{}
	done  chan struct{}
}

// NewBars draws on w; tty selects in-place redrawing.
func NewBars(w io.Writer, tty bool) *Bars {
	every := 10 * time.Second
	if tty {
		every = 100 * time.Millisecond
	}
	return &Bars{w: w, tty: tty, every: every, start: time.Now()}
}

// Bar is one blob's line. Its methods do nothing on a nil *Bar.
type Bar struct {
	p       *Bars
	id      string
	size    atomic.Int64
	done    atomic.Int64
	status  string // under p.mu
	started time.Time
}

// Add adds a line for a blob (id: a short digest) of size bytes.
func (p *Bars) Add(id string, size int64) *Bar {
	b := &Bar{p: p, id: id, status: StatusWaiting}
	b.size.Store(size)
	p.mu.Lock()
	p.bars = append(p.bars, b)
	p.mu.Unlock()
	return b
}

// Start redraws until Stop.
func (p *Bars) Start() {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		t := time.NewTicker(p.every)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				p.draw(true)
				return
			case <-t.C:
				p.draw(false)
			}
		}
	}()
}

// Stop draws the final state and stops redrawing.
func (p *Bars) Stop() {
	if p.stop == nil {
		return
	}
	close(p.stop)
	<-p.done
	p.stop = nil
}

// Set changes the bar's status (a plain line on a non-terminal).
func (b *Bar) Set(status string) {
	if b == nil {
		return
	}
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	if b.status == status {
		return
	}
	if status == StatusPushing && b.started.IsZero() {
		b.started = time.Now()
	}
	b.status = status
	if !b.p.tty {
		line := b.id + ": " + status
		switch status {
		case StatusPushing, StatusCompressing:
			line += " " + human(b.size.Load())
		case StatusPushed:
			secs := time.Since(b.started).Seconds()
			line += fmt.Sprintf(" %s in %.1fs", human(b.size.Load()), secs)
		}
		fmt.Fprintln(b.p.w, line)
	}
}

// Reset starts the count again for a blob of size n (the compressed
// layer, once compression counted its input).
func (b *Bar) Reset(n int64) {
	if b != nil {
		b.size.Store(n)
		b.done.Store(0)
	}
}

// Add counts n more bytes sent (negative: taken back).
func (b *Bar) Add(n int64) {
	if b != nil {
		b.done.Add(n)
	}
}

// Done marks the blob pushed.
func (b *Bar) Done() {
	if b != nil {
		b.done.Store(b.size.Load())
		b.Set(StatusPushed)
	}
}

// Exists marks the blob as already in the repository.
func (b *Bar) Exists() {
	if b != nil {
		b.done.Store(b.size.Load())
		b.Set(StatusExists)
	}
}

// Resumed notes that an earlier push's parts were reused.
func (b *Bar) Resumed() {
	if b != nil && !b.p.tty {
		fmt.Fprintf(b.p.w, "%s: Resuming at %s of %s\n", b.id, human(b.done.Load()), human(b.size.Load()))
	}
}

// draw renders the bars (terminal) or a total line (plain, every few
// seconds and at the end).
func (p *Bars) draw(final bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var done, size int64
	for _, b := range p.bars {
		done += b.done.Load()
		size += b.size.Load()
	}
	rate := float64(done) / max(time.Since(p.start).Seconds(), 0.001)
	total := fmt.Sprintf("%s/%s  %s/s", human(done), human(size), human(int64(rate)))
	if !p.tty {
		if final || time.Since(p.last) >= p.every {
			fmt.Fprintf(p.w, "Total: %s\n", total)
			p.last = time.Now()
		}
		return
	}
	var sb strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&sb, "\x1b[%dA", p.drawn)
	}
	for _, b := range p.bars {
		line := b.id + ": " + b.status
		if b.status == StatusPushing || b.status == StatusCompressing {
			line = fmt.Sprintf("%s: %-11s %s %s/%s", b.id, b.status, bar(b.done.Load(), b.size.Load()), human(b.done.Load()), human(b.size.Load()))
		}
		sb.WriteString("\x1b[2K" + line + "\n")
	}
	sb.WriteString("\x1b[2K" + fmt.Sprintf("%-24s %s %s", "Total:", bar(done, size), total) + "\n")
	p.drawn = len(p.bars) + 1
	_, _ = io.WriteString(p.w, sb.String())
}

// bar is docker's 50-wide progress bar.
func bar(done, size int64) string {
	const width = 50
	n := 0
	if size > 0 {
		n = int(min(done, size) * width / size)
	}
	if n >= width {
		return "[" + strings.Repeat("=", width) + "]"
	}
	return "[" + strings.Repeat("=", n) + ">" + strings.Repeat(" ", width-n-1) + "]"
}

// human formats a byte count as docker does (decimal units).
func human(n int64) string {
	v := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if v < 1000 || u == "TB" {
			return fmt.Sprintf("%.4g%s", v, u)
		}
		v /= 1000
	}
	return ""
}
