package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// MigrateOptions are the flags of `vakt migrate`.
type MigrateOptions struct {
	// Roles also creates the roles vakt_writer, vakt_security and vakt_ops.
	Roles bool
	// PrintSQL prints the statements instead of connecting.
	PrintSQL bool
}

// PrintSQL is `vakt migrate --print-sql`: the SQL of a fresh installation,
// with roles the roles' too.
func PrintSQL(out io.Writer, sc SchemaConfig, roles bool) error {
	ddl, err := SchemaSQL(sc)
	if err != nil {
		return err
	}
	fmt.Fprint(out, ddl)
	if roles {
		stmts, err := RoleSQL(sc)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\n-- roles\n\n%s;\n", strings.Join(stmts, ";\n"))
	}
	return nil
}

// MigrateCommand is `vakt migrate` on conn (addr names it for the
// operator): it applies the schema migrations and the configured
// retention, and with roles creates the roles, printing what it did.
// embedded says conn is the embedded engine, which has no access
// management.
func MigrateCommand(ctx context.Context, conn driver.Conn, addr string, sc SchemaConfig, roles, embedded bool, out io.Writer) error {
	rep, err := MigrateReport(ctx, conn, sc)
	if rep != nil {
		printMigration(out, addr, rep)
	}
	if err != nil {
		return err
	}
	if !roles {
		return nil
	}
	if err := CreateRoles(ctx, conn, sc); err != nil {
		if IsAccessDenied(err) && embedded {
			return fmt.Errorf("roles: the embedded engine has no access management, so it cannot create roles (%w); "+
				"run vakt migrate --roles against a ClickHouse server (clickhouse.addr), or use clickhouse.readonly_user for a read-only account here; "+
				"vakt migrate --roles --print-sql shows the SQL", err)
		}
		return fmt.Errorf("roles: %w (the ClickHouse user needs access management: access_management = 1)", err)
	}
	fmt.Fprintf(out, "roles: %s (INSERT only), %s (SELECT on %s and %s), %s (SELECT on %s, which has no client ids)\n",
		RoleWriter, RoleSecurity, RequestsTable, ClientsTable, RoleOps, HealthTable)
	fmt.Fprintf(out, "  give one to a user with: GRANT %s TO alice; ALTER USER alice DEFAULT ROLE %s\n", RoleOps, RoleOps)
	return nil
}

func printMigration(out io.Writer, addr string, rep *MigrationReport) {
	fmt.Fprintf(out, "database %s on %s: schema version %d\n", rep.Database, addr, rep.Version)
	if len(rep.Applied) == 0 {
		fmt.Fprintln(out, "  no migration to apply")
	}
	for _, m := range rep.Applied {
		fmt.Fprintf(out, "  applied migration %d: %s\n", m.Version, m.Name)
	}
	for _, c := range rep.TTLChanges {
		from := "no TTL vakt set"
		if c.From > 0 {
			from = DaysText(c.From)
		}
		fmt.Fprintf(out, "  retention of %s: %s, was %s\n", c.Table, DaysText(c.To), from)
	}
	for _, w := range rep.Warnings {
		fmt.Fprintf(out, "  warning: %s\n", w)
	}
}

// MigrateOnStart runs the migrations as a stage starts. A ClickHouse user
// that may not change the schema (vakt_writer, INSERT only) is expected in
// production: then an administrator runs `vakt migrate`, and the stage
// goes on.
func MigrateOnStart(ctx context.Context, conn driver.Conn, sc SchemaConfig, log *slog.Logger) error {
	rep, err := MigrateReport(ctx, conn, sc)
	if err != nil {
		if IsAccessDenied(err) {
			log.Warn("the ClickHouse user may not change the schema; assuming an administrator ran `vakt migrate` for this version and retention", "err", err)
			return nil
		}
		return err // MigrateReport names the schema
	}
	for _, m := range rep.Applied {
		log.Info("schema migration applied", "version", m.Version, "name", m.Name)
	}
	for _, c := range rep.TTLChanges {
		log.Info("retention changed", "table", c.Table, "days", int(c.To.Hours()/24), "was_days", int(c.From.Hours()/24))
	}
	for _, w := range rep.Warnings {
		log.Warn(w)
	}
	return nil
}

// IsAccessDenied reports ClickHouse's ACCESS_DENIED (497).
func IsAccessDenied(err error) bool {
	var ex *clickhouse.Exception
	return errors.As(err, &ex) && ex.Code == 497
}

// DaysText says a retention in whole days: "30 days", "365 days (1 year)".
func DaysText(d time.Duration) string { return DaysWords(int(d / (24 * time.Hour))) }

// DaysWords says n days, with months or years for long periods.
func DaysWords(n int) string {
	s := fmt.Sprintf("%d days", n)
	if n == 1 {
		s = "1 day"
	}
	switch {
	case n >= 365 && n%365 == 0:
		years := n / 365
		if years == 1 {
			return s + " (1 year)"
		}
		return fmt.Sprintf("%s (%d years)", s, years)
	case n >= 60:
		return fmt.Sprintf("%s (about %d months)", s, int(math.Round(float64(n)/30.44)))
	}
	return s
}
