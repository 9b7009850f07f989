-- Notes handed over with warm transfers, newest last (JSON array of {at, from, to, note}).
ALTER TABLE handoffs ADD COLUMN notes TEXT NOT NULL DEFAULT '[]';
