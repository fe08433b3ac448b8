"""The simpy runtime and the world models: network, broker model, sensors, website, cloud, GPIO."""
