import { servicePrismaConfig } from "@shop/runtime/prisma-config";

export default servicePrismaConfig(import.meta.dirname);
