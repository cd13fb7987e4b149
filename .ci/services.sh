# Sourced by .ci/run: install and start the services the tests need, on loopback, and export
# their addresses. Everything comes from Debian packages; nothing is expected to be installed.
# Idempotent: reruns reuse what is there.

ci_apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "+ apt-get install ${missing[*]}"
        if [ -z "${CI_APT_UPDATED:-}" ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq
            CI_APT_UPDATED=1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# --- PostgreSQL ---------------------------------------------------------------------------
ci_apt_install postgresql
pg_version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | grep -q "^$pg_version main"; then
    pg_createcluster "$pg_version" main >/dev/null
fi
pg_ctlcluster "$pg_version" main start 2>/dev/null || true
for _ in $(seq 1 30); do
    pg_isready -q -h 127.0.0.1 -p 5432 && break
    sleep 1
done
su postgres -c "psql -q -v ON_ERROR_STOP=1" >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'trdnav_test') THEN
    CREATE ROLE trdnav_test LOGIN CREATEDB PASSWORD 'trdnav_test';
  END IF;
END $$;
SQL
export TRDNAV_TEST_POSTGRES_URL="postgresql+psycopg://trdnav_test:trdnav_test@127.0.0.1:5432/postgres"
export CI=1

# --- Browser tests and PDF reports ---------------------------------------------------------
# Debian's chromium drives the web app's browser tests (Playwright never downloads a browser
# here); WeasyPrint renders the PDF reports with Pango, HarfBuzz and fontconfig and a font.
ci_apt_install chromium fonts-dejavu-core libglib2.0-0 libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz0b libharfbuzz-subset0 libfontconfig1
