import MCPBoxCLI

MCPBox.main()
