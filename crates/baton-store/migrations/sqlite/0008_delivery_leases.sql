-- A delivery is claimed for a while by the instance that sends it, so several instances never
-- send the same event at once; a claim that expires (the instance died) is taken over.
ALTER TABLE webhook_outbox ADD COLUMN leased_until TEXT;
-- Each endpoint's oldest undelivered event, found without reading the delivered ones.
CREATE INDEX webhook_outbox_undelivered ON webhook_outbox(endpoint_id, event_seq) WHERE delivered_at IS NULL;
