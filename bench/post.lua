-- wrk script for POST /payments: the same JSON body on every request.
-- Payments makes a new payment for each one (no Idempotency-Key), so every request is a write.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"order_id":"ord-bench-1","customer_id":"cust-bench","amount":2500,"currency":"EUR"}'
