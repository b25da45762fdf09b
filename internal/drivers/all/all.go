// Package all links every driver family into a binary. Import it for its side effect;
// each family registers its components from init. Add one line per family.
package all

import (
	_ "github.com/osirisgo/osiris/internal/drivers/duckdb"     // duckdb.processor
	_ "github.com/osirisgo/osiris/internal/drivers/filesystem" // filesystem.csv_*
	_ "github.com/osirisgo/osiris/internal/drivers/graphql"    // graphql.extractor
	_ "github.com/osirisgo/osiris/internal/drivers/mysql"      // mysql.*
	_ "github.com/osirisgo/osiris/internal/drivers/postgres"   // postgres.*, supabase.*
)
