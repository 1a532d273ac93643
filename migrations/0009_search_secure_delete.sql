-- Mail that stops matching loses its bodies, and the search index must forget its words too.
-- An FTS5 delete normally only records that the row is gone, leaving its terms in the index's
-- pages until a merge rewrites them; with secure-delete (a setting of the table, kept in its
-- config, so it holds for every connection) the terms are removed from the pages at once.
INSERT INTO email_search (email_search, rank) VALUES ('secure-delete', 1);
