# boot.py on the board: runs first at every reset. Nothing to do before main.py: the
# WiFi is brought up by the node's HAL (firmware/board/esp32_hal.py) so it can reconnect.
