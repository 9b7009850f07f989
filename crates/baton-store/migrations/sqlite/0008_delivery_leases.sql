-- A delivery is claimed for a while by the instance that sends it, so several instances never
-- send the same event at once; a claim that expires (the instance died) is taken over.
ALTER TABLE webhook_outbox ADD COLUMN leased_until TEXT;
