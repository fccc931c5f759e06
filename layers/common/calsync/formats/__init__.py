"""Calendar data formats: ``ical`` (one appointment as a VEVENT / a CalDAV resource) and ``vtimezone``
(VTIMEZONE components from the IANA database). Pure; shared by the CalDAV provider and the ICS feed."""
