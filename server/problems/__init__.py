"""Problems and appeals an enterprise raises with the bureau (首问负责制): answered within 3 working days, or passed on
the same day to the department responsible, which answers within 5."""
