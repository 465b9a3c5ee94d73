"""Stories the package ships: the demo world in the import format."""
