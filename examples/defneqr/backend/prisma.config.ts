// Prisma 7 reads the database URL from here, not from schema.prisma. A plain object, so that the
// file loads without the prisma package installed beside it (the app hosts install no dev tools).
export default {
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL },
};
