package main

import (
	"bytes"
	"context"
	"flag"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/crew-go/crew"
	"github.com/crew-go/crew/examples/internal/exampletest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestBatchSmoke runs both ways on a small load into a file of the test's:
// each way stores every row but the duplicates, whose own handlers alone
// see an error, and the output reads on 100 columns.
func TestBatchSmoke(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	cfg := config{db: path, handlers: 8, rows: 3, dupes: 2, batchSize: 4, batchWait: time.Millisecond}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), cfg, &out))
	got := out.String()
	exampletest.AssertReadable(t, got)
	// Handlers 7 and 3 (of 8) repeat their first request ID in their last row.
	for _, want := range []string{
		"handler   3, row  2: request h003-r00 is stored already (UNIQUE request_id)",
		"handler   7, row  2: request h007-r00 is stored already (UNIQUE request_id)",
	} {
		assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte(want)), "once each way: %s", want)
	}
	assert.Equal(t, 2, bytes.Count(out.Bytes(), []byte("22 rows stored, 2 refused, 0 failed")))
	assert.Regexp(t, `row by row +24 +24 +22 +2 `, got)
	assert.Regexp(t, `Batcher +24 +\d +22 +2 `, got, "at most 24/4 + a few statements")

	s, err := openStore(context.Background(), path)
	require.NoError(t, err)
	defer s.close()
	n, err := s.count(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 22, n, "the rows stay in the user's file")
}

// TestInsertBatchItemErrors: one INSERT stores the batch but the rows the
// UNIQUE key refuses (a request ID stored before, or earlier in the same
// batch), and only those get an error, each its own.
func TestInsertBatchItemErrors(t *testing.T) {
	ctx := context.Background()
	s, err := openStore(ctx, filepath.Join(t.TempDir(), "events.db"))
	require.NoError(t, err)
	defer s.close()
	_, err = s.insertOne(ctx, event{"old", "u", "e"})
	require.NoError(t, err)

	ids, err := s.insertBatch(ctx, []event{{"a", "u", "e"}, {"old", "u", "e"}, {"b", "u", "e"}, {"a", "u", "e"}})
	var errs crew.ItemErrors
	require.ErrorAs(t, err, &errs)
	require.Len(t, errs, 4)
	assert.NoError(t, errs[0])
	assert.EqualError(t, errs[1], "request old is stored already (UNIQUE request_id)")
	assert.NoError(t, errs[2])
	assert.EqualError(t, errs[3], "request a is stored already (UNIQUE request_id)")
	assert.NotZero(t, ids[0])
	assert.NotZero(t, ids[2])
	assert.NotEqual(t, ids[0], ids[2])
	n, err := s.count(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, n)

	more, err := s.insertBatch(ctx, []event{{"c", "u", "e"}})
	require.NoError(t, err, "no refusal: a plain nil error")
	assert.Greater(t, more[0], ids[2])
}

func TestBatchUsage(t *testing.T) {
	var cfg config
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	cfg.flags(fs)
	exampletest.AssertUsage(t, fs, "batch")
	require.NoError(t, fs.Parse(nil))
	assert.Equal(t, 200, cfg.handlers)
	assert.Equal(t, 10, cfg.rows)
	require.NoError(t, cfg.check())

	for _, args := range [][]string{{"-batch", "0"}, {"-rows", "1"}, {"-dupes", "201"}, {"-handlers", "0"}} {
		var bad config
		fs := flag.NewFlagSet("batch", flag.ContinueOnError)
		bad.flags(fs)
		require.NoError(t, fs.Parse(args))
		assert.Error(t, bad.check(), "%v", args)
	}
}
