/*
 * embed.h - files compiled into the binary (migrations, the default theme).
 *
 * cmake/embed.cmake generates one array per embedded directory, sorted by name and
 * terminated by an entry whose name is NULL. Data is NUL-terminated (not counted in size).
 */
#ifndef ONEFILE_CORE_EMBED_H
#define ONEFILE_CORE_EMBED_H

struct embedded_file {
    const char *name;          /* path relative to the embedded directory */
    const unsigned char *data; /* size bytes, then a NUL */
    unsigned long size;
};

/* migrations/NNNN_name.sql: SQLite's */
extern const struct embedded_file embedded_migrations[];
extern const unsigned long embedded_migrations_count;
/* migrations/postgres/NNNN_name.sql: the same migrations in PostgreSQL's dialect, one for
   each of SQLite's, with the same name (tests/unit/test_migrations_pg.c) */
extern const struct embedded_file embedded_migrations_postgres[];
extern const unsigned long embedded_migrations_postgres_count;
extern const struct embedded_file embedded_theme[];
extern const unsigned long embedded_theme_count;

#endif
