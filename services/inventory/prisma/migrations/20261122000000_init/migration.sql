-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "reservation_status" AS ENUM ('RESERVED', 'RELEASED', 'COMMITTED');

-- CreateTable
CREATE TABLE "stock" (
    "product_id" UUID NOT NULL,
    "available" INTEGER NOT NULL,
    "reserved" INTEGER NOT NULL DEFAULT 0,
    "committed" INTEGER NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "stock_pkey" PRIMARY KEY ("product_id"),
    CONSTRAINT "stock_available_non_negative" CHECK ("available" >= 0),
    CONSTRAINT "stock_reserved_non_negative" CHECK ("reserved" >= 0),
    CONSTRAINT "stock_committed_non_negative" CHECK ("committed" >= 0)
);

-- CreateTable
CREATE TABLE "reservations" (
    "order_id" UUID NOT NULL,
    "status" "reservation_status" NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "reservations_pkey" PRIMARY KEY ("order_id")
);

-- CreateTable
CREATE TABLE "reservation_items" (
    "order_id" UUID NOT NULL,
    "product_id" UUID NOT NULL,
    "quantity" INTEGER NOT NULL,

    CONSTRAINT "reservation_items_pkey" PRIMARY KEY ("order_id","product_id"),
    CONSTRAINT "reservation_items_quantity_positive" CHECK ("quantity" > 0)
);

-- AddForeignKey
ALTER TABLE "reservation_items" ADD CONSTRAINT "reservation_items_order_id_fkey" FOREIGN KEY ("order_id") REFERENCES "reservations"("order_id") ON DELETE CASCADE ON UPDATE CASCADE;

