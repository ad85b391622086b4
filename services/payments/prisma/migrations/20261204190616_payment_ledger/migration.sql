-- The payments ledger: every payment becomes the stream of its events (`payment-<order id>`),
-- which are rows of the outbox, and its state is their fold. The payments table goes.

-- AlterTable
ALTER TABLE "outbox_events" ADD COLUMN     "position" BIGSERIAL NOT NULL,
ADD COLUMN     "stream_id" TEXT,
ADD COLUMN     "stream_version" INTEGER,
ADD COLUMN     "transaction_id" xid8 NOT NULL DEFAULT pg_current_xact_id();

-- CreateTable
CREATE TABLE "stream_snapshots" (
    "stream_id" TEXT NOT NULL,
    "schema_version" INTEGER NOT NULL,
    "version" INTEGER NOT NULL,
    "state" JSONB NOT NULL,
    "taken_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stream_snapshots_pkey" PRIMARY KEY ("stream_id","schema_version")
);

-- Data migration. Each payment's events already are outbox rows: each change of its status
-- wrote the row of its event in the same transaction. Those rows become its stream when they
-- are exactly the events its status implies, each kept as it was published, with the amount
-- the payments table knew added to a decline and to a void (the fold of a decline needs it).
-- Otherwise (rows deleted, or never written: a void tombstone has none) the stream is made
-- from the payments table, with cause "migration", first event at the payment's creation and
-- later ones at its last change; those rows count as sent, since they stand for what was
-- published before, or, for a tombstone, for what needed no message. Rows that are not part
-- of a stream stay in the outbox as they are, published or still to be.

-- Protobuf wire format, for the messages of shop/payments/v1/events.proto.
CREATE FUNCTION "ledger_pb_varint"(n BIGINT) RETURNS BYTEA LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  out BYTEA := ''::BYTEA;
BEGIN
  IF n < 0 THEN RAISE EXCEPTION 'negative varint %', n; END IF;
  LOOP
    IF n < 128 THEN RETURN out || set_byte('\x00'::BYTEA, 0, n::INT); END IF;
    out := out || set_byte('\x00'::BYTEA, 0, ((n & 127) | 128)::INT);
    n := n >> 7;
  END LOOP;
END $$;

CREATE FUNCTION "ledger_pb_bytes"(field INT, body BYTEA) RETURNS BYTEA LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ledger_pb_varint(field * 8 + 2) || ledger_pb_varint(length(body)) || body
$$;

-- proto3 leaves out empty strings and zero numbers.
CREATE FUNCTION "ledger_pb_string"(field INT, value TEXT) RETURNS BYTEA LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN coalesce(value, '') = '' THEN ''::BYTEA ELSE ledger_pb_bytes(field, convert_to(value, 'UTF8')) END
$$;

CREATE FUNCTION "ledger_pb_int"(field INT, value BIGINT) RETURNS BYTEA LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE WHEN value = 0 THEN ''::BYTEA ELSE ledger_pb_varint(field * 8) || ledger_pb_varint(value) END
$$;

CREATE FUNCTION "ledger_pb_money"(field INT, currency TEXT, amount_minor BIGINT) RETURNS BYTEA LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN amount_minor IS NULL THEN ''::BYTEA
              ELSE ledger_pb_bytes(field, ledger_pb_string(1, currency) || ledger_pb_int(2, amount_minor)) END
$$;

CREATE FUNCTION "ledger_pb_timestamp"(field INT, at TIMESTAMPTZ) RETURNS BYTEA LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT ledger_pb_bytes(field, ledger_pb_int(1, floor(extract(epoch FROM at))::BIGINT)
                             || ledger_pb_int(2, ((extract(milliseconds FROM at) % 1000) * 1000000)::BIGINT))
$$;

-- The string of field `wanted` in a message, null if absent.
CREATE FUNCTION "ledger_pb_read_string"(message BYTEA, wanted INT) RETURNS TEXT LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE
  pos INT := 0;
  key BIGINT;
  len BIGINT;
  shift INT;
  b INT;
BEGIN
  WHILE pos < length(message) LOOP
    key := 0; shift := 0;
    LOOP
      b := get_byte(message, pos); pos := pos + 1;
      key := key | ((b & 127)::BIGINT << shift); shift := shift + 7;
      EXIT WHEN b < 128;
    END LOOP;
    CASE key & 7
      WHEN 0 THEN
        LOOP b := get_byte(message, pos); pos := pos + 1; EXIT WHEN b < 128; END LOOP;
      WHEN 1 THEN pos := pos + 8;
      WHEN 5 THEN pos := pos + 4;
      WHEN 2 THEN
        len := 0; shift := 0;
        LOOP
          b := get_byte(message, pos); pos := pos + 1;
          len := len | ((b & 127)::BIGINT << shift); shift := shift + 7;
          EXIT WHEN b < 128;
        END LOOP;
        IF key >> 3 = wanted THEN RETURN convert_from(substring(message FROM pos + 1 FOR len::INT), 'UTF8'); END IF;
        pos := pos + len::INT;
      ELSE RAISE EXCEPTION 'unsupported protobuf wire type %', key & 7;
    END CASE;
  END LOOP;
  RETURN NULL;
END $$;

-- The events each payment's status implies, in order.
CREATE TEMPORARY TABLE "ledger_expected" AS
SELECT p.*, 'payment-' || p.order_id AS stream_id,
       CASE
         WHEN p.status = 'AUTHORIZED' THEN ARRAY['shop.payments.v1.PaymentAuthorized']
         WHEN p.status = 'CAPTURED' THEN ARRAY['shop.payments.v1.PaymentAuthorized', 'shop.payments.v1.PaymentCaptured']
         WHEN p.status = 'VOIDED' AND p.user_id IS NULL THEN ARRAY['shop.payments.v1.PaymentVoided']
         WHEN p.status = 'VOIDED' THEN ARRAY['shop.payments.v1.PaymentAuthorized', 'shop.payments.v1.PaymentVoided']
         WHEN p.status = 'REFUNDED' THEN ARRAY['shop.payments.v1.PaymentAuthorized', 'shop.payments.v1.PaymentCaptured', 'shop.payments.v1.PaymentRefunded']
         WHEN p.status = 'DECLINED' THEN ARRAY['shop.payments.v1.PaymentDeclined']
       END AS types
FROM "payments" p;

-- The outbox rows of each order's payment (every payment event has its order id in field 2).
CREATE TEMPORARY TABLE "ledger_rows" AS
SELECT o.id, ledger_pb_read_string(o.payload, 2)::UUID AS order_id, o.type,
       row_number() OVER (PARTITION BY ledger_pb_read_string(o.payload, 2) ORDER BY o.created_at, o.id)::INT AS version
FROM "outbox_events" o
WHERE o.type LIKE 'shop.payments.v1.%';

CREATE TEMPORARY TABLE "ledger_adopted" AS
SELECT e.order_id
FROM "ledger_expected" e
JOIN "ledger_rows" r ON r.order_id = e.order_id
GROUP BY e.order_id, e.types
HAVING array_agg(r.type ORDER BY r.version) = e.types;

UPDATE "outbox_events" o
SET "stream_id" = e.stream_id,
    "stream_version" = r.version,
    "payload" = o.payload || CASE
      WHEN o.type = 'shop.payments.v1.PaymentDeclined' THEN ledger_pb_money(6, e.currency, e.amount_minor)
      WHEN o.type = 'shop.payments.v1.PaymentVoided' THEN ledger_pb_money(5, e.currency, e.amount_minor)
      ELSE ''::BYTEA
    END
FROM "ledger_rows" r
JOIN "ledger_expected" e ON e.order_id = r.order_id
JOIN "ledger_adopted" a ON a.order_id = r.order_id
WHERE o.id = r.id;

INSERT INTO "outbox_events" ("id", "subject", "type", "payload", "created_at", "sent_at", "stream_id", "stream_version")
SELECT gen_random_uuid(),
       'shop.payments.' || CASE t.type
         WHEN 'shop.payments.v1.PaymentAuthorized' THEN 'payment_authorized'
         WHEN 'shop.payments.v1.PaymentCaptured' THEN 'payment_captured'
         WHEN 'shop.payments.v1.PaymentVoided' THEN 'payment_voided'
         WHEN 'shop.payments.v1.PaymentRefunded' THEN 'payment_refunded'
         WHEN 'shop.payments.v1.PaymentDeclined' THEN 'payment_declined'
       END,
       t.type,
       ledger_pb_string(1, e.id::TEXT) || ledger_pb_string(2, e.order_id::TEXT) || ledger_pb_string(3, e.user_id::TEXT) ||
       CASE t.type
         WHEN 'shop.payments.v1.PaymentVoided' THEN
           ledger_pb_timestamp(4, t.at) || ledger_pb_money(5, e.currency, e.amount_minor) || ledger_pb_bytes(7, ledger_pb_string(1, 'migration'))
         WHEN 'shop.payments.v1.PaymentDeclined' THEN
           ledger_pb_string(4, e.decline_reason) || ledger_pb_timestamp(5, t.at) || ledger_pb_money(6, e.currency, e.amount_minor)
           || ledger_pb_bytes(8, ledger_pb_string(1, 'migration'))
         ELSE
           ledger_pb_money(4, e.currency, e.amount_minor) || ledger_pb_timestamp(5, t.at) || ledger_pb_bytes(7, ledger_pb_string(1, 'migration'))
       END,
       t.at, now(), e.stream_id, t.version
FROM "ledger_expected" e
CROSS JOIN LATERAL (
  SELECT types.type, types.version::INT, CASE WHEN types.version = 1 THEN e.created_at ELSE e.updated_at END AS at
  FROM unnest(e.types) WITH ORDINALITY AS types(type, version)
) t
WHERE NOT EXISTS (SELECT 1 FROM "ledger_adopted" a WHERE a.order_id = e.order_id);

-- Global positions in the order the events happened; every row already migrated has this
-- transaction's id.
UPDATE "outbox_events" o SET "position" = ordered.position
FROM (SELECT id, row_number() OVER (ORDER BY created_at, stream_id NULLS FIRST, stream_version, id) AS position FROM "outbox_events") ordered
WHERE o.id = ordered.id;
SELECT setval(pg_get_serial_sequence('outbox_events', 'position'), (SELECT coalesce(max("position"), 0) + 1 FROM "outbox_events"), false);

DROP TABLE "ledger_adopted", "ledger_rows", "ledger_expected";
DROP FUNCTION "ledger_pb_read_string"(BYTEA, INT);
DROP FUNCTION "ledger_pb_timestamp"(INT, TIMESTAMPTZ);
DROP FUNCTION "ledger_pb_money"(INT, TEXT, BIGINT);
DROP FUNCTION "ledger_pb_int"(INT, BIGINT);
DROP FUNCTION "ledger_pb_string"(INT, TEXT);
DROP FUNCTION "ledger_pb_bytes"(INT, BYTEA);
DROP FUNCTION "ledger_pb_varint"(BIGINT);

-- DropTable
DROP TABLE "payments";

-- DropEnum
DROP TYPE "payment_status";

-- CreateIndex
CREATE INDEX "outbox_events_transaction_id_position_idx" ON "outbox_events"("transaction_id", "position");

-- CreateIndex
CREATE UNIQUE INDEX "outbox_events_stream_id_stream_version_key" ON "outbox_events"("stream_id", "stream_version");

ALTER TABLE "outbox_events" ADD CONSTRAINT "outbox_events_stream_check"
  CHECK (("stream_id" IS NULL) = ("stream_version" IS NULL) AND "stream_version" >= 1);

-- The ledger is never rewritten: a row of a stream cannot be deleted, by a pruning job or anyone.
CREATE FUNCTION "outbox_events_keep_streams"() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'outbox row % is event % of stream %: ledger rows are never deleted', OLD.id, OLD.stream_version, OLD.stream_id
    USING ERRCODE = 'restrict_violation';
END $$;

CREATE TRIGGER "outbox_events_keep_streams" BEFORE DELETE ON "outbox_events"
  FOR EACH ROW WHEN (OLD.stream_id IS NOT NULL) EXECUTE FUNCTION "outbox_events_keep_streams"();
