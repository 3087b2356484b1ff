package periodic

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestEveryTicksReportsAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		calls, reported := 0, 0
		done := make(chan struct{})
		go func() {
			Every(ctx, time.Second, func(context.Context) error {
				calls++
				if calls == 2 {
					return errors.New("clickhouse: connection refused")
				}
				return nil
			}, func(error) { reported++ })
			close(done)
		}()
		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		if calls != 3 || reported != 1 {
			t.Fatalf("after 3.5 intervals: %d calls, %d reported failures; want 3 and 1", calls, reported)
		}
		cancel()
		<-done
	})
}
