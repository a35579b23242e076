-- Accounts. E-mail and username are unique without regard to case.
CREATE TABLE users (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email          text        NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    username       text        CHECK (length(username) BETWEEN 1 AND 150),
    name           text        CHECK (length(name) <= 200),
    first_name     text        CHECK (length(first_name) <= 100),
    last_name      text        CHECK (length(last_name) <= 100),
    middle_name    text        CHECK (length(middle_name) <= 100),
    phone          text        CHECK (length(phone) <= 32),
    date_of_birth  date,
    country        text        CHECK (length(country) <= 100),
    role           text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'staff', 'admin')),
    is_premium     boolean     NOT NULL DEFAULT false,
    email_verified boolean     NOT NULL DEFAULT false,
    password_hash  text        NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE UNIQUE INDEX users_username_key ON users (lower(username));
