// Package periodic runs housekeeping on a ticker until its context ends.
package periodic

import (
	"context"
	"time"
)

// Every calls f every interval until ctx ends. A failure goes to onErr and f runs again
// at the next tick; failures caused by ctx ending are not reported.
func Every(ctx context.Context, interval time.Duration, f func(context.Context) error, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := f(ctx); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
