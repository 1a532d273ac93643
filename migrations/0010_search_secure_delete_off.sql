-- Secure-delete on for every write of the search index (0009) made each rewrite of an entry
-- many times slower. The writer now turns it on only while it deletes the entries of mail
-- that leaves the index (lib/search/index.ts), so between writes it is off.
INSERT INTO email_search (email_search, rank) VALUES ('secure-delete', 0);
