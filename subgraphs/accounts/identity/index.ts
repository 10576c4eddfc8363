// Sign-up, sign-in, sessions, password reset, two-factor: each module registers its types.
import './types/sign-in';
import './types/sessions';
import './types/password-reset';
import './types/two-factor';
