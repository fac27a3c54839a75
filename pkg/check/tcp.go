package check

import (
	"context"
	"time"
)

var aLongTimeAgo = time.Unix(1, 0)

// probeTCP succeeds when a TCP connection is established within the deadline.
func probeTCP(ctx context.Context, s Spec) (Outcome, error) {
	conn, err := dialTCP(ctx, s.Common)
	if err != nil {
		return Outcome{}, err
	}
	_ = conn.Close()
	return Outcome{OK: true}, nil
}
