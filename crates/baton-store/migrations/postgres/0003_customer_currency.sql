-- The ISO 4217 code of a customer's lifetime value (three upper-case letters), when known.
ALTER TABLE customers ADD COLUMN currency TEXT;
