"""users: family and staff accounts; publishes `user.created`."""
