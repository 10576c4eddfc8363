// Organizations, members, roles and invitations: each module registers its types.
