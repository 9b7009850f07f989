-- Times are compared and sorted as text (the queue's order, "resolved since"), which is only
-- time order when every time has the same width. They were written with as many fractional
-- digits as they needed ("10:00:00Z", "10:00:00.5Z", "10:00:00.55Z" sort backwards); from now on
-- always nine ("10:00:00.000000000Z"), and this rewrites the times already stored. A value that
-- is not a UTC time of that shape is left as it is (reading still accepts any RFC 3339 time).
UPDATE customers SET
    updated_at = CASE WHEN updated_at LIKE '____-__-__T__:__:__Z' THEN substr(updated_at, 1, 19) || '.000000000Z'
         WHEN updated_at LIKE '____-__-__T__:__:__._%Z' AND length(updated_at) <= 30
           THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE updated_at END;
UPDATE conversations SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END;
UPDATE messages SET
    at = CASE WHEN at LIKE '____-__-__T__:__:__Z' THEN substr(at, 1, 19) || '.000000000Z'
         WHEN at LIKE '____-__-__T__:__:__._%Z' AND length(at) <= 30
           THEN substr(at, 1, 20) || substr(substr(at, 21, length(at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE at END;
UPDATE agents SET
    updated_at = CASE WHEN updated_at LIKE '____-__-__T__:__:__Z' THEN substr(updated_at, 1, 19) || '.000000000Z'
         WHEN updated_at LIKE '____-__-__T__:__:__._%Z' AND length(updated_at) <= 30
           THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE updated_at END;
UPDATE handoffs SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END,
    updated_at = CASE WHEN updated_at LIKE '____-__-__T__:__:__Z' THEN substr(updated_at, 1, 19) || '.000000000Z'
         WHEN updated_at LIKE '____-__-__T__:__:__._%Z' AND length(updated_at) <= 30
           THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE updated_at END,
    assigned_at = CASE WHEN assigned_at LIKE '____-__-__T__:__:__Z' THEN substr(assigned_at, 1, 19) || '.000000000Z'
         WHEN assigned_at LIKE '____-__-__T__:__:__._%Z' AND length(assigned_at) <= 30
           THEN substr(assigned_at, 1, 20) || substr(substr(assigned_at, 21, length(assigned_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE assigned_at END,
    accepted_at = CASE WHEN accepted_at LIKE '____-__-__T__:__:__Z' THEN substr(accepted_at, 1, 19) || '.000000000Z'
         WHEN accepted_at LIKE '____-__-__T__:__:__._%Z' AND length(accepted_at) <= 30
           THEN substr(accepted_at, 1, 20) || substr(substr(accepted_at, 21, length(accepted_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE accepted_at END,
    resolved_at = CASE WHEN resolved_at LIKE '____-__-__T__:__:__Z' THEN substr(resolved_at, 1, 19) || '.000000000Z'
         WHEN resolved_at LIKE '____-__-__T__:__:__._%Z' AND length(resolved_at) <= 30
           THEN substr(resolved_at, 1, 20) || substr(substr(resolved_at, 21, length(resolved_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE resolved_at END,
    queued_at = CASE WHEN queued_at LIKE '____-__-__T__:__:__Z' THEN substr(queued_at, 1, 19) || '.000000000Z'
         WHEN queued_at LIKE '____-__-__T__:__:__._%Z' AND length(queued_at) <= 30
           THEN substr(queued_at, 1, 20) || substr(substr(queued_at, 21, length(queued_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE queued_at END,
    callback_at = CASE WHEN callback_at LIKE '____-__-__T__:__:__Z' THEN substr(callback_at, 1, 19) || '.000000000Z'
         WHEN callback_at LIKE '____-__-__T__:__:__._%Z' AND length(callback_at) <= 30
           THEN substr(callback_at, 1, 20) || substr(substr(callback_at, 21, length(callback_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE callback_at END;
UPDATE api_keys SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END,
    revoked_at = CASE WHEN revoked_at LIKE '____-__-__T__:__:__Z' THEN substr(revoked_at, 1, 19) || '.000000000Z'
         WHEN revoked_at LIKE '____-__-__T__:__:__._%Z' AND length(revoked_at) <= 30
           THEN substr(revoked_at, 1, 20) || substr(substr(revoked_at, 21, length(revoked_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE revoked_at END;
UPDATE idempotency SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END;
UPDATE events SET
    at = CASE WHEN at LIKE '____-__-__T__:__:__Z' THEN substr(at, 1, 19) || '.000000000Z'
         WHEN at LIKE '____-__-__T__:__:__._%Z' AND length(at) <= 30
           THEN substr(at, 1, 20) || substr(substr(at, 21, length(at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE at END;
UPDATE webhook_endpoints SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END;
UPDATE webhook_outbox SET
    next_attempt_at = CASE WHEN next_attempt_at LIKE '____-__-__T__:__:__Z' THEN substr(next_attempt_at, 1, 19) || '.000000000Z'
         WHEN next_attempt_at LIKE '____-__-__T__:__:__._%Z' AND length(next_attempt_at) <= 30
           THEN substr(next_attempt_at, 1, 20) || substr(substr(next_attempt_at, 21, length(next_attempt_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE next_attempt_at END,
    delivered_at = CASE WHEN delivered_at LIKE '____-__-__T__:__:__Z' THEN substr(delivered_at, 1, 19) || '.000000000Z'
         WHEN delivered_at LIKE '____-__-__T__:__:__._%Z' AND length(delivered_at) <= 30
           THEN substr(delivered_at, 1, 20) || substr(substr(delivered_at, 21, length(delivered_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE delivered_at END,
    leased_until = CASE WHEN leased_until LIKE '____-__-__T__:__:__Z' THEN substr(leased_until, 1, 19) || '.000000000Z'
         WHEN leased_until LIKE '____-__-__T__:__:__._%Z' AND length(leased_until) <= 30
           THEN substr(leased_until, 1, 20) || substr(substr(leased_until, 21, length(leased_until) - 21) || '000000000', 1, 9) || 'Z'
         ELSE leased_until END;
UPDATE suggestions SET
    created_at = CASE WHEN created_at LIKE '____-__-__T__:__:__Z' THEN substr(created_at, 1, 19) || '.000000000Z'
         WHEN created_at LIKE '____-__-__T__:__:__._%Z' AND length(created_at) <= 30
           THEN substr(created_at, 1, 20) || substr(substr(created_at, 21, length(created_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE created_at END,
    updated_at = CASE WHEN updated_at LIKE '____-__-__T__:__:__Z' THEN substr(updated_at, 1, 19) || '.000000000Z'
         WHEN updated_at LIKE '____-__-__T__:__:__._%Z' AND length(updated_at) <= 30
           THEN substr(updated_at, 1, 20) || substr(substr(updated_at, 21, length(updated_at) - 21) || '000000000', 1, 9) || 'Z'
         ELSE updated_at END;
