-- A merchant's request rate limit (API.md v1.1 "Overload"): rate_per_s
-- requests a second with burst saved up; 0 = unlimited (rate) or one
-- second's worth (burst). The bounds match http/admin_routes.cpp's.
ALTER TABLE merchants
  ADD COLUMN rate_per_s integer NOT NULL DEFAULT 0 CHECK (rate_per_s BETWEEN 0 AND 1000000),
  ADD COLUMN burst      integer NOT NULL DEFAULT 0 CHECK (burst BETWEEN 0 AND 1000000);
