// Organizations, members, roles and invitations: each module registers its types.
import './organization';
import './membership';
import './invitation';
import './mutations';
import './project-by-slug';
