package clock

import (
	"errors"
	"testing"
	"time"
)

func TestWallClockTicksAndDoesNotMove(t *testing.T) {
	for _, c := range []*Clock{nil, Wall()} {
		before := time.Now().UTC()
		if now := c.Now(); now.Before(before) || now.Location() != time.UTC {
			t.Errorf("wall clock read %v, want UTC at or after %v", now, before)
		}
		if _, err := c.Advance(time.Hour); !errors.Is(err, ErrWall) {
			t.Errorf("advancing the wall clock: %v, want ErrWall", err)
		}
	}
}

func TestTestClockStandsStillUntilAdvanced(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 600, time.FixedZone("x", 3600))
	c := NewTest(start)
	day0 := time.Date(2030, 1, 2, 2, 4, 5, 0, time.UTC)
	if got := c.Now(); !got.Equal(day0) || got.Location() != time.UTC {
		t.Fatalf("test clock starts at %v, want %v", got, day0)
	}
	time.Sleep(2 * time.Millisecond)
	if got := c.Now(); !got.Equal(day0) {
		t.Errorf("test clock moved by itself to %v", got)
	}
	if now, err := c.Advance(20 * 24 * time.Hour); err != nil || !now.Equal(day0.AddDate(0, 0, 20)) || !c.Now().Equal(now) {
		t.Errorf("Advance(20 days) = %v, %v; Now %v", now, err, c.Now())
	}
	if _, err := c.Advance(-time.Second); !errors.Is(err, ErrBackward) {
		t.Errorf("moving back: %v, want ErrBackward", err)
	}
}
