"""facilities: chapels and halls, and the time slots reserved in them."""
