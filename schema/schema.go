// Package schema owns the ClickHouse database: connecting (and creating the database),
// the embedded migrations and the migrator, and partition housekeeping.
package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Open connects to the ClickHouse in dsn (clickhouse-go's format), creating its database
// if missing, and checks that the server answers.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dsn: %w", err)
	}
	db := opts.Auth.Database
	if db == "" {
		db = "default"
	}
	if !identPattern.MatchString(db) {
		return nil, fmt.Errorf("clickhouse dsn: database name %q must match %s", db, identPattern)
	}
	if db != "default" {
		boot := *opts
		boot.Auth.Database = "default"
		conn, err := clickhouse.Open(&boot)
		if err != nil {
			return nil, fmt.Errorf("clickhouse connect: %w", err)
		}
		err = conn.Exec(ctx, "CREATE DATABASE IF NOT EXISTS "+db)
		conn.Close()
		if err != nil && !isCode(err, codeDatabaseExists) {
			return nil, fmt.Errorf("create database %s: %w", db, err)
		}
	}
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, fmt.Errorf("clickhouse connect: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("clickhouse ping: %w", err)
	}
	return conn, nil
}

var identPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ClickHouse error codes the migrator treats as "already done" when two processes race.
const (
	codeTableExists    = 57
	codeDatabaseExists = 82
)

func isCode(err error, code int32) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == code
}

// Migration is one embedded *.sql file.
type Migration struct {
	Version    uint32
	Name       string
	Checksum   string
	Statements []string
}

var fileName = regexp.MustCompile(`^(\d{4})_([a-z0-9_]+)\.sql$`)

// Migrations returns the embedded migrations in version order.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name must be NNNN_name.sql", e.Name())
		}
		data, err := migrationFiles.ReadFile("migrations/" + e.Name())
		if err != nil {
			return nil, err
		}
		v, _ := strconv.ParseUint(m[1], 10, 32)
		sum := sha256.Sum256(data)
		ms = append(ms, Migration{Version: uint32(v), Name: m[2], Checksum: hex.EncodeToString(sum[:8]), Statements: SplitStatements(string(data))})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i := 1; i < len(ms); i++ {
		if ms[i].Version == ms[i-1].Version {
			return nil, fmt.Errorf("migration version %04d used twice", ms[i].Version)
		}
	}
	return ms, nil
}

// SplitStatements splits SQL on semicolons that end a line, dropping comment-only lines.
func SplitStatements(sql string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(sql, "\n") {
		t := strings.TrimSpace(line)
		if t == "" || strings.HasPrefix(t, "--") {
			continue
		}
		cur.WriteString(line)
		cur.WriteByte('\n')
		if strings.HasSuffix(t, ";") {
			out = append(out, strings.TrimSuffix(strings.TrimSpace(cur.String()), ";"))
			cur.Reset()
		}
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

//go:embed bootstrap.sql
var bootstrapSQL string

// Migrate applies pending migrations in order and records each in schema_migrations.
// ClickHouse has no transactions or locks, so every statement is idempotent (IF NOT
// EXISTS) and two processes migrating at once both succeed; duplicate records collapse.
// It returns the versions this call applied.
func Migrate(ctx context.Context, conn driver.Conn) ([]uint32, error) {
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	for _, stmt := range SplitStatements(bootstrapSQL) {
		if err := execIdempotent(ctx, conn, stmt); err != nil {
			return nil, fmt.Errorf("create schema_migrations: %w", err)
		}
	}
	done, err := appliedChecksums(ctx, conn)
	if err != nil {
		return nil, err
	}
	var applied []uint32
	for _, m := range ms {
		if sum, ok := done[m.Version]; ok {
			if sum != m.Checksum {
				return applied, fmt.Errorf("migration %04d_%s was changed after it was applied (checksum %s, recorded %s): add a new migration instead", m.Version, m.Name, m.Checksum, sum)
			}
			continue
		}
		for i, stmt := range m.Statements {
			if err := execIdempotent(ctx, conn, stmt); err != nil {
				return applied, fmt.Errorf("migration %04d_%s statement %d: %w", m.Version, m.Name, i+1, err)
			}
		}
		if err := InsertRow(ctx, conn, "INSERT INTO schema_migrations (version, name, checksum, applied_at)",
			m.Version, m.Name, m.Checksum, time.Now().UTC().Truncate(time.Second)); err != nil {
			return applied, fmt.Errorf("record migration %04d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

// InsertRow inserts one row through the batch API: Exec with bound values hangs on
// ClickHouse 18.16, and 18.16 needs the explicit column list that insert must name.
func InsertRow(ctx context.Context, conn driver.Conn, insert string, values ...any) error {
	return InsertRows(ctx, conn, insert, [][]any{values})
}

// InsertRows inserts rows in one batch (one part) with an explicit column list.
func InsertRows(ctx context.Context, conn driver.Conn, insert string, rows [][]any) error {
	batch, err := conn.PrepareBatch(ctx, insert)
	if err != nil {
		return err
	}
	defer batch.Close()
	for _, values := range rows {
		if err := batch.Append(values...); err != nil {
			return err
		}
	}
	return batch.Send()
}

func execIdempotent(ctx context.Context, conn driver.Conn, stmt string) error {
	err := conn.Exec(ctx, stmt)
	if err != nil && (isCode(err, codeTableExists) || isCode(err, codeDatabaseExists)) {
		return nil
	}
	return err
}

func appliedChecksums(ctx context.Context, conn driver.Conn) (map[uint32]string, error) {
	rows, err := conn.Query(ctx, "SELECT version, any(checksum) FROM schema_migrations GROUP BY version")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[uint32]string{}
	for rows.Next() {
		var v uint32
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		done[v] = sum
	}
	return done, rows.Err()
}

// Partition is one active partition of a table: its id (for DROP PARTITION ID) and its
// value as ClickHouse prints it, e.g. ('shop',20261124) or 20261124.
type Partition struct {
	ID    string
	Value string
}

// Partitions lists the active partitions of table in the connection's database.
func Partitions(ctx context.Context, conn driver.Conn, table string) ([]Partition, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT partition_id, partition FROM system.parts WHERE database = currentDatabase() AND table = ? AND active ORDER BY partition_id", table)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", table, err)
	}
	defer rows.Close()
	var ps []Partition
	for rows.Next() {
		var p Partition
		if err := rows.Scan(&p.ID, &p.Value); err != nil {
			return nil, fmt.Errorf("list partitions of %s: %w", table, err)
		}
		ps = append(ps, p)
	}
	return ps, rows.Err()
}

// DropPartition drops one partition of table by its id.
func DropPartition(ctx context.Context, conn driver.Conn, table, id string) error {
	if !identPattern.MatchString(table) || !partitionID.MatchString(id) {
		return fmt.Errorf("drop partition: bad table %q or id %q", table, id)
	}
	if err := conn.Exec(ctx, fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", table, id)); err != nil {
		return fmt.Errorf("drop partition %s of %s: %w", id, table, err)
	}
	return nil
}

var partitionID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
