package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/crew-go/crew"
	_ "modernc.org/sqlite" // the "sqlite" driver for database/sql, in pure Go (no cgo)
)

// event is a row a handler inserts: request IDs are unique, so a request
// retried by its client is stored once.
type event struct {
	requestID string
	user      string
	name      string
}

// duplicateError is a handler's error for a row whose request ID is stored
// already: the table's UNIQUE key refused it.
type duplicateError struct{ requestID string }

func (e *duplicateError) Error() string {
	return fmt.Sprintf("request %s is stored already (UNIQUE request_id)", e.requestID)
}

// store is a table of events in a SQLite file.
type store struct {
	db *sql.DB
}

const schema = `CREATE TABLE IF NOT EXISTS crew_example_events (
	id         INTEGER PRIMARY KEY,
	request_id TEXT NOT NULL UNIQUE,
	user       TEXT NOT NULL,
	event      TEXT NOT NULL
)`

// openStore opens (creating if need be) the SQLite file at path and its
// table.
func openStore(ctx context.Context, path string) (*store, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	// SQLite takes one writer at a time: with one connection, concurrent
	// inserts queue in database/sql instead of failing with "database is
	// locked".
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, schema); err != nil {
		db.Close()
		return nil, err
	}
	return &store{db: db}, nil
}

func (s *store) close() error { return s.db.Close() }

// empty deletes every event, for a fresh start.
func (s *store) empty(ctx context.Context) error {
	_, err := s.db.ExecContext(ctx, "DELETE FROM crew_example_events")
	return err
}

// count returns how many events the table holds.
func (s *store) count(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM crew_example_events").Scan(&n)
	return n, err
}

// insertOne stores one event in a statement (and a transaction) of its own
// and returns its row ID: what a handler does without a Batcher.
func (s *store) insertOne(ctx context.Context, e event) (int64, error) {
	var id int64
	err := s.db.QueryRowContext(ctx, `INSERT INTO crew_example_events (request_id, user, event)
		VALUES (?, ?, ?) ON CONFLICT (request_id) DO NOTHING RETURNING id`,
		e.requestID, e.user, e.name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) { // the UNIQUE key refused it: nothing returned
		return 0, &duplicateError{e.requestID}
	}
	return id, err
}

// insertBatch is the Batcher's BatchFunc: one multi-row INSERT in one
// transaction for the whole batch, and each event's row ID back in order.
// The rows the UNIQUE key refuses (a request ID stored before, or earlier
// in the batch) get their own error through crew.ItemErrors; the others are
// stored and get their IDs.
func (s *store) insertBatch(ctx context.Context, events []event) ([]int64, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // a no-op after Commit

	args := make([]any, 0, 3*len(events))
	for _, e := range events {
		args = append(args, e.requestID, e.user, e.name)
	}
	query := "INSERT INTO crew_example_events (request_id, user, event) VALUES " +
		strings.Repeat("(?, ?, ?), ", len(events)-1) + "(?, ?, ?)" +
		" ON CONFLICT (request_id) DO NOTHING RETURNING request_id, id"
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	stored := make(map[string]int64, len(events)) // RETURNING comes in no set order
	for rows.Next() {
		var requestID string
		var id int64
		if err := rows.Scan(&requestID, &id); err != nil {
			rows.Close()
			return nil, err
		}
		stored[requestID] = id
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, err
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err // every event of the batch fails with it
	}

	ids := make([]int64, len(events))
	var errs crew.ItemErrors
	for i, e := range events {
		if id, ok := stored[e.requestID]; ok {
			ids[i] = id
			delete(stored, e.requestID) // a repeat later in the batch was refused
			continue
		}
		if errs == nil {
			errs = make(crew.ItemErrors, len(events))
		}
		errs[i] = &duplicateError{e.requestID}
	}
	if errs != nil {
		return ids, errs
	}
	return ids, nil
}
