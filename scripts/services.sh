#!/usr/bin/env bash
# Start MariaDB and PostgreSQL when they are down, and create the test databases.
# Both listen on loopback only; tests reach them at 127.0.0.1.
set -euo pipefail

wait_for() { # name, command
	for _ in $(seq 1 60); do
		if eval "$2" >/dev/null 2>&1; then return 0; fi
		sleep 1
	done
	echo "services: $1 did not come up" >&2
	return 1
}

if ! mysqladmin -h127.0.0.1 -uroot ping >/dev/null 2>&1; then
	echo "services: starting MariaDB" >&2
	start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
	wait_for MariaDB "mysqladmin -h127.0.0.1 -uroot ping"
fi

if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
	echo "services: starting PostgreSQL" >&2
	pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
	wait_for PostgreSQL "pg_isready -h 127.0.0.1 -p 5432"
fi

mysql -h127.0.0.1 -uroot -e "CREATE DATABASE IF NOT EXISTS test; CREATE DATABASE IF NOT EXISTS osiris_test; SET GLOBAL local_infile = 1;"
psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'osiris_test'" | grep -q 1 ||
	psql -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE osiris_test"
