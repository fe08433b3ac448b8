"""Production code of the system under test: services, pure logic, ports, live adapters."""
