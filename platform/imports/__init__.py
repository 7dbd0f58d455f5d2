"""What the org import and the customer scores import share: the wizard's steps and the CLI's
plumbing. Each import keeps its own fields, rules and pages; see :mod:`.wizard`."""
