// Sign-up, sign-in, sessions, password reset, two-factor: each module registers its types.
