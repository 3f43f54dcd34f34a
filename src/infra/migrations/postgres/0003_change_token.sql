-- SPDX-License-Identifier: AGPL-3.0-or-later
-- A counter that every admin write transaction raises (store_pg.c write_end), so that another
-- process can tell, with one cheap read, that accounts, plans, contracts or keys changed and its
-- caches must be reloaded. SQLite answers the same question with PRAGMA data_version and has no
-- such table. Being a row written inside the change's own transaction, the new value becomes
-- visible exactly when the change does: a reader never sees the token move before the data.
CREATE TABLE change_token (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    v   BIGINT  NOT NULL
);
INSERT INTO change_token(id, v) VALUES (1, 0);
